/* output.c */
#include "coap.h"
#include "output.h"
