using System.CommandLine;

namespace Reconciler.Cli;

internal static class StateCommand
{
    // Placeholder until the issue that owns `state` lands; without an action System.CommandLine prints help.
    public static Command Build() => new("state", "(not built yet)");
}
