using System.CommandLine;

namespace Reconciler.Cli;

internal static class PlanCommand
{
    // Placeholder until the issue that owns `plan` lands; without an action System.CommandLine prints help.
    public static Command Build() => new("plan", "(not built yet)");
}
