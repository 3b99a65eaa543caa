/* option.c */
#include "coap.h"
