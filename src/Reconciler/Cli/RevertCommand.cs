using System.CommandLine;

namespace Reconciler.Cli;

internal static class RevertCommand
{
    // Placeholder until the issue that owns `revert` lands; without an action System.CommandLine prints help.
    public static Command Build() => new("revert", "(not built yet)");
}
