using System.CommandLine;
using Reconciler.State;

namespace Reconciler.Cli;

/// <summary>Options shared by run, status and history, and where the state store URL comes from.</summary>
internal static class GitOpsOptions
{
    public static Option<string> Env() => new("--env") { Description = "Environment name (as in environments/*.yaml).", Required = true };

    public static Option<string?> State() => new("--state")
    {
        Description = "State store URL (sqlite:PATH or consul://HOST:PORT/PREFIX). Default: RECONCILER_STATE, else `state:` of reconciler.yaml, else sqlite:.reconciler/state.db.",
    };

    public static Option<string> Format() => new Option<string>("--format") { Description = "Output format: text or json.", DefaultValueFactory = _ => "text" }
        .AcceptOnlyFromAmongFluent("text", "json");

    private static Option<string> AcceptOnlyFromAmongFluent(this Option<string> option, params string[] values)
    {
        option.AcceptOnlyFromAmong(values);
        return option;
    }

    /// <summary>--state, then RECONCILER_STATE, then reconciler.yaml's <c>state:</c>, then the default SQLite file.</summary>
    public static IStateStore OpenStore(string? cliUrl, string? repoStateUrl, string repoRoot, TimeProvider time) =>
        StateStores.Open(StateStores.UrlFor(cliUrl, repoStateUrl), Path.GetFullPath(repoRoot), time);

    public static string CheckEnvironment(string env)
    {
        StateNames.Check("environment", env);
        return env;
    }
}
