using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>Wraps every command action: the outcome becomes the exit code here (<see cref="ExitCodes.For"/>), user
/// errors and the engine's failures become "error: ..." and their exit code; anything unexpected is reported in one
/// line (stack trace only with RECONCILER_DEBUG=1).</summary>
public static class CliRunner
{
    /// <summary>A command that parses its options, calls one use case and renders one view, and returns what it ended
    /// with: null for success, else the kind of failure (shown by then: its view, or <see cref="FailAsync{T}"/>).</summary>
    public static Task<int> RunAsync(TextWriter stderr, Func<Task<FailureKind?>> command) =>
        RunAsync(stderr, async () => ExitCodes.For(await command()));

    public static async Task<int> RunAsync(TextWriter stderr, Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (UserError e)
        {
            await stderr.WriteLineAsync($"error: {e.Message}");
            return e.ExitCode;
        }
        catch (ReconcilerException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.For(e.Kind);
        }
        catch (OperationCanceledException)
        {
            await stderr.WriteLineAsync("interrupted: stopped at a safe point.");
            return ExitCodes.Interrupted;
        }
        catch (Exception e)
        {
            await stderr.WriteLineAsync($"error: unexpected failure: {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("RECONCILER_DEBUG") is "1")
                await stderr.WriteLineAsync(e.ToString());
            else
                await stderr.WriteLineAsync("  (set RECONCILER_DEBUG=1 to print details; please report this as a bug)");
            return ExitCodes.Error;
        }
    }

    /// <summary>A use case that did not do what was asked, on stderr: when the repo did not validate, its diagnostics
    /// as `validate` lists them and "N error(s) WHERE; <paramref name="notDone"/>.", then "error: MESSAGE". Returns the
    /// failure's kind for the exit code.</summary>
    /// <param name="repoArgument">--repo as typed: diagnostics' paths start with it.</param>
    /// <param name="notDone">What did not happen, e.g. "nothing was applied".</param>
    public static async Task<FailureKind> FailAsync<T>(TextWriter stderr, UseCaseResult<T> result, string repoArgument = ".",
        string notDone = "nothing was changed") where T : class
    {
        var failure = result.Failure ?? throw new InvalidOperationException("the use case succeeded");
        if (result.InvalidRepo is { } invalid)
            await stderr.WriteAsync(ValidateOutput.InvalidRepo(invalid, repoArgument, notDone));
        await stderr.WriteLineAsync($"error: {failure.Message}");
        return failure.Kind;
    }
}
