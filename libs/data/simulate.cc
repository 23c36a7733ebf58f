// Placeholder: implementation in progress.
#include "libs/data/simulate.h"
