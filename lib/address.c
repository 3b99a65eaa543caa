/* address.c */
#include "coap.h"
