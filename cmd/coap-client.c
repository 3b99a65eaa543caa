#include "coap.h"
int main(void) { return 0; }
