/* session.c */
#include "coap.h"
