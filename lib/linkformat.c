/* linkformat.c */
#include "coap.h"
