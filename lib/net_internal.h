/* net_internal.h */
#ifndef COAPKIT_NET_INTERNAL_H
#define COAPKIT_NET_INTERNAL_H
#include "pdu_internal.h"
#endif
