// The subcommands of the `flsailer` command-line tool. Each takes the arguments after its name
// and returns a process exit code; errors are printed to stderr.
#ifndef FLSAILER_SERVICES_CLI_COMMANDS_H_
#define FLSAILER_SERVICES_CLI_COMMANDS_H_

namespace flsailer::cli {

int RunAggregator(int argc, char** argv);
int RunClient(int argc, char** argv);
int RunConvert(int argc, char** argv);
int RunDemo(int argc, char** argv);
int RunCoordinator(int argc, char** argv);
int RunEmbed(int argc, char** argv);
int RunEvaluate(int argc, char** argv);
int RunHealth(int argc, char** argv);
int RunInspect(int argc, char** argv);
int RunJob(int argc, char** argv);
int RunLsi(int argc, char** argv);
int RunPki(int argc, char** argv);
int RunSelectFeatures(int argc, char** argv);
int RunSimulate(int argc, char** argv);
int RunSplit(int argc, char** argv);
int RunTrain(int argc, char** argv);

}  // namespace flsailer::cli

#endif  // FLSAILER_SERVICES_CLI_COMMANDS_H_
