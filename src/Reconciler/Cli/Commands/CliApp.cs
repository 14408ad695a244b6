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
            // On SIGINT/SIGTERM the action's token is cancelled; an apply then needs time to reach a safe point
            // (finish the host step, write the journal, release the lock). System.CommandLine's default of 2 s
            // would return from Main mid-step; 80 s stays under systemd's default 90 s stop timeout.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(80),
        };
        return await parse.InvokeAsync(config);
    }
}
