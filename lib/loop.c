/* loop.c */
#include "coap.h"
