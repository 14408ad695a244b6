namespace Reconciler.Cli;

/// <summary>Wraps every command action: user errors and the engine's failures become "error: ..." and their exit code; anything
/// unexpected is reported in one line (stack trace only with RECONCILER_DEBUG=1).</summary>
public static class CliRunner
{
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
}
