using System.CommandLine;

namespace Reconciler.Cli;

internal static class HistoryCommand
{
    // Placeholder until the issue that owns `history` lands; without an action System.CommandLine prints help.
    public static Command Build() => new("history", "(not built yet)");
}
