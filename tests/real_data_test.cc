// Tests in progress.
#include "gtest/gtest.h"
