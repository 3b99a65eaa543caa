/* keepalive.c */
#include "coap.h"
