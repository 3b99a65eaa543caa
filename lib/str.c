/* str.c */
#include "coap.h"
