using Reconciler.Execution;
using Reconciler.State;

namespace Reconciler.Views;

/// <summary>What `reconciler apply` says around the plan (<see cref="TextPlanView"/>) and the progress
/// (<see cref="PlainProgressView"/>, <see cref="LiveProgressView"/>): docs/cli/apply.md.</summary>
public static class ApplyView
{
    public const string Cancelled = "apply cancelled; nothing was changed.";

    public static string Question(string environment) => $"Apply these changes to {environment}? [y/N] ";

    public static string Unfinished(string commit, string environment) =>
        $"An earlier apply of {Short(commit)} to {environment} did not finish; it will be resumed or repaired first.";

    /// <summary>The outcome's paragraph: as it is for success (stdout), after "error: " for a failure (stderr).</summary>
    public static string Outcome(ReconcileOutcome outcome) => outcome.Result switch
    {
        ApplyResult.Succeeded or ApplyResult.NoChanges => outcome.Message,
        _ => "error: " + outcome.Message,
    };

    private static string Short(string commit) => commit.Length > 12 && commit.All(char.IsAsciiHexDigit) ? commit[..12] : commit;
}
