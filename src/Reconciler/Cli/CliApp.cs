using System.CommandLine;

namespace Reconciler.Cli;

/// <summary>The command tree. Each command lives in its own file as a static Build() method.</summary>
public static class CliApp
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("reconciler: plan and apply an infra monorepo to plain servers, GitOps style.");
        root.Subcommands.Add(ValidateCommand.Build());
        root.Subcommands.Add(PlanCommand.Build());
        root.Subcommands.Add(ApplyCommand.Build());
        root.Subcommands.Add(StateCommand.Build());
        root.Subcommands.Add(StatusCommand.Build());
        root.Subcommands.Add(HistoryCommand.Build());
        root.Subcommands.Add(RunCommand.Build());
        root.Subcommands.Add(RevertCommand.Build());
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        var parse = BuildRoot().Parse(args);
        var config = new InvocationConfiguration
        {
            Output = stdout ?? Console.Out,
            Error = stderr ?? Console.Error,
            // We print our own errors (CliRunner); a stack trace is never shown to a user.
            EnableDefaultExceptionHandler = false,
            // SIGINT/SIGTERM cancel the action's token; apply then finishes the host step in progress (an upload may
            // take a while) and releases its lock. The library's default of 2 s would kill it mid-step.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(60),
        };
        return await parse.InvokeAsync(config);
    }
}
