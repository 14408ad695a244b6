using System.CommandLine;

namespace Reconciler.Cli;

internal static class ValidateCommand
{
    // Placeholder until the issue that owns `validate` lands; without an action System.CommandLine prints help.
    public static Command Build() => new("validate", "(not built yet)");
}
