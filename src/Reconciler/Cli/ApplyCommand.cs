using System.CommandLine;

namespace Reconciler.Cli;

internal static class ApplyCommand
{
    // Placeholder until the issue that owns `apply` lands; without an action System.CommandLine prints help.
    public static Command Build() => new("apply", "(not built yet)");
}
