namespace Reconciler.Cli;

/// <summary>An error meant for the user: printed as "error: MESSAGE" (no stack trace) with its exit code.</summary>
public class UserError(string message, int exitCode = ExitCodes.Error) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
