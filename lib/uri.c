/* uri.c */
#include "coap.h"
