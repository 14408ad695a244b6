using System.CommandLine;

namespace Reconciler.Cli;

internal static class StatusCommand
{
    // Placeholder until the issue that owns `status` lands; without an action System.CommandLine prints help.
    public static Command Build() => new("status", "(not built yet)");
}
