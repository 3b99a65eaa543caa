/* resource.c */
#include "coap.h"
