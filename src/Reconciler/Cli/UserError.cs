namespace Reconciler.Cli;

/// <summary>An error of the command line itself (options that exclude each other, a file that cannot be written):
/// printed as "error: MESSAGE" (no stack trace) with its exit code. The engine's failures arrive as
/// <see cref="ReconcilerException"/> and are mapped by <see cref="ExitCodes.For"/>.</summary>
public class UserError(string message, int exitCode = ExitCodes.Error) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
