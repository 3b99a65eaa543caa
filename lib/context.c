/* context.c */
#include "coap.h"
