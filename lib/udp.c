/* udp.c */
#include "coap.h"
