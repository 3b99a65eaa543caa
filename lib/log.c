/* log.c */
#include "coap.h"
