using System.CommandLine;

namespace Reconciler.Cli;

internal static class RunCommand
{
    // Placeholder until the issue that owns `run` lands; without an action System.CommandLine prints help.
    public static Command Build() => new("run", "(not built yet)");
}
