/* options.c */
#include "coap.h"
#include "options.h"
