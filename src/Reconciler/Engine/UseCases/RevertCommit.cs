using Reconciler.Git;

namespace Reconciler.UseCases;

/// <param name="Repo">--repo: any directory inside the clone.</param>
/// <param name="Message">--message; null: the default "Revert ..." message.</param>
/// <param name="Mainline">--mainline: for a merge commit, the parent (1-based) whose side is kept.</param>
public sealed record RevertRequest(string Repo, string Sha, string? Message, int? Mainline);

/// <summary>`reconciler revert SHA`: writes the revert commit on the checked-out branch, ready to push
/// (docs/cli/revert.md).</summary>
public static class RevertCommit
{
    public static UseCaseResult<RevertResult> Run(RevertRequest request, DateTimeOffset now) => UseCaseResult.Catch(() =>
    {
        if (request.Message is not null && string.IsNullOrWhiteSpace(request.Message))
            throw new ReconcilerException(FailureKind.InvalidInput, "--message is empty. Give a message, or leave --message out for the default one.");
        return GitRevert.Revert(request.Repo, request.Sha, request.Message, request.Mainline, now);
    });
}
