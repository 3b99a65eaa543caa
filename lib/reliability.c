/* reliability.c */
#include "coap.h"
