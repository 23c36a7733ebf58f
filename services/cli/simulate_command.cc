// Placeholder: implementation in progress.
#include "services/cli/commands.h"
namespace flsailer::cli {
int RunSimulate(int, char**) { return 2; }
}
