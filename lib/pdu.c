/* pdu.c */
#include "coap.h"
