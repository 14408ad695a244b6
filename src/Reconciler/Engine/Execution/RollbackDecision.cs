using System.Text.Json;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// Why a rollback runs and whether it quarantines the commit, as the rollback step's journal detail: a rollback
/// resumed by another process reads the decision instead of inferring it from the reason's words (a service named
/// "pre-empted" that failed its gate once passed for a pre-emption). <see cref="Cause"/> is whose fault the failure
/// was (null in a decision written before it was recorded): only a commit fault quarantines.
/// </summary>
internal sealed record RollbackDecision(string Reason, bool Quarantine, FailureKind? Cause = null)
{
    /// <summary>The decision for a failure of that kind: a commit fault (or the commit's own invalid input) quarantines;
    /// a pre-emption and every fault of the environment do not.</summary>
    public static RollbackDecision For(string reason, FailureKind kind) =>
        new(reason, Quarantine: kind is FailureKind.CommitFault or FailureKind.InvalidInput, kind);

    /// <summary>What the rollback's end reports: the cause, or for an old decision what its quarantine flag implies.</summary>
    public FailureKind Kind => Cause ?? (Quarantine ? FailureKind.CommitFault : FailureKind.Interrupted);

    public string ToDetail() => JsonSerializer.Serialize(this, ReconcilerJson.Compact.InfoFor<RollbackDecision>());

    public static RollbackDecision FromDetail(string? detail)
    {
        if (detail is null) return new("an earlier run failed", Quarantine: true);
        if (detail.StartsWith('{'))
        {
            try
            {
                if (JsonSerializer.Deserialize(detail, ReconcilerJson.Compact.InfoFor<RollbackDecision>()) is { Reason: not null } decision) return decision;
            }
            catch (JsonException)
            {
                // Not a decision: a reason written by the previous version that happens to start with '{'.
            }
        }
        // Written by the previous version, which journaled the reason alone and began a pre-emption's with "pre-empted".
        return new(detail, Quarantine: !detail.StartsWith("pre-empted", StringComparison.Ordinal));
    }
}
