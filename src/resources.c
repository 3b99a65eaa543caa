/* resources.c */
#include "coap.h"
#include "resources.h"
