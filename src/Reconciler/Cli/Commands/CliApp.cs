using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;

namespace Reconciler.Cli;

/// <summary>The command tree. Each command lives in its own file as a static Build() method.</summary>
public static class CliApp
{
    /// <summary>Taken by every command (docs/cli.md): no colour even on a terminal. NO_COLOR (any non-empty value,
    /// no-color.org) and output that is not a terminal do the same.</summary>
    public const string NoColorOption = "--no-color";

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("reconciler: plan and apply an infra monorepo to plain servers, GitOps style.");
        root.Options.Add(new Option<bool>(NoColorOption) { Description = "No colour, even on a terminal (also: NO_COLOR set, or output not a terminal).", Recursive = true });
        root.Subcommands.Add(InitCommand.Build());
        root.Subcommands.Add(ValidateCommand.Build());
        root.Subcommands.Add(PlanCommand.Build());
        root.Subcommands.Add(ApplyCommand.Build());
        root.Subcommands.Add(StateCommand.Build());
        root.Subcommands.Add(StatusCommand.Build());
        root.Subcommands.Add(DriftCommand.Build());
        root.Subcommands.Add(HistoryCommand.Build());
        root.Subcommands.Add(TogglesCommand.Build());
        root.Subcommands.Add(RunCommand.Build());
        root.Subcommands.Add(RevertCommand.Build());
        foreach (var version in root.Options.OfType<VersionOption>()) version.Action = new PrintVersion();
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
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
            return await UsageErrorAsync(parse, config.Error);
        return await parse.InvokeAsync(config);
    }

    /// <summary>A usage error as one "error:" line and where to read the usage, instead of the whole help text
    /// (git, cargo and kubectl do the same). One error only: the others often follow from it.</summary>
    private static async Task<int> UsageErrorAsync(ParseResult parse, TextWriter stderr)
    {
        var names = new List<string>();
        for (var c = parse.CommandResult; c is not null; c = c.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, c.Command is RootCommand ? "reconciler" : c.Command.Name);
        var command = string.Join(' ', names);
        // A word that matched nothing says most ("deploy" rather than "Required command was not provided").
        var error = parse.Errors.FirstOrDefault(e => parse.UnmatchedTokens.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal))) ?? parse.Errors[0];
        await stderr.WriteLineAsync($"error: {error.Message}");
        await stderr.WriteLineAsync($"Run '{command} --help' for usage.");
        return ExitCodes.Error;
    }

    /// <summary>Whether to colour output written to <paramref name="stdout"/>: not with --no-color, not with NO_COLOR set,
    /// not when it is not the console or the console is redirected.</summary>
    internal static bool UseColor(ParseResult parse, TextWriter stdout) =>
        !parse.GetValue<bool>(NoColorOption) && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));

    /// <summary>"reconciler 1.2.0 (commit 0123456789ab)": the version and the commit it was built from.</summary>
    internal static string VersionLine()
    {
        var (version, commit) = BuiltFrom();
        return $"reconciler {version} (commit {commit ?? "unknown: built outside a Git work tree"})";
    }

    /// <summary>The version and the commit (SourceRevisionId, which the SDK takes from Git at build time and appends
    /// to the informational version as "+SHA"); no commit when built outside Git.</summary>
    internal static (string Version, string? Commit) BuiltFrom()
    {
        var informational = typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? (informational, null) : (informational[..plus], informational[(plus + 1)..]);
    }

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(VersionLine());
            return ExitCodes.Ok;
        }
    }
}
