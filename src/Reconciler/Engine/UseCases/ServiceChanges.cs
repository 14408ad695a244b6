using System.Collections.Immutable;
using LibGit2Sharp;
using Reconciler.Git;
using Reconciler.Schema.Loading;

namespace Reconciler.UseCases;

/// <summary>The service files modified from infra tree <paramref name="From"/> to <paramref name="To"/>, by service
/// name, with their blob ids in <paramref name="To"/>: the one kind of change an incremental plan patches
/// (<see cref="IncrementalPlan"/>). A snapshot keeps its head's, for the next preview's base diff.</summary>
internal sealed record ServiceChanges(string From, string To, ImmutableSortedDictionary<string, string> Blobs)
{
    /// <summary>No tree compared (a plan against the store has no base).</summary>
    public static readonly ServiceChanges None = new("", "", ImmutableSortedDictionary<string, string>.Empty);

    /// <summary>Git's diff from <paramref name="oldTree"/> to <paramref name="source"/>'s tree; null when any other
    /// infra file changed or a file was added, removed or renamed (the full plan handles those).</summary>
    public static ServiceChanges? Between(GitRepoSource source, string oldTree)
    {
        if (source.ChangesSince(oldTree) is not { } changes) return null;
        var blobs = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (path, status, blob, isFile) in changes)
        {
            if (!RepoLayout.IsListed(path)) continue;   // not an infra file: never read
            if (!path.StartsWith("services/", StringComparison.Ordinal) || status != ChangeKind.Modified || !isFile) return null;
            blobs[path["services/".Length..^".yaml".Length]] = blob;
        }
        return new ServiceChanges(oldTree, source.TreeId, blobs.ToImmutable());
    }

    /// <summary>The names of the changed services. The blob ids known for the old tree (<paramref name="blobs"/>)
    /// become those of the new tree; <paramref name="old"/> keeps the old ids of the changed files.</summary>
    public List<string> Apply(Dictionary<string, string> blobs, out Dictionary<string, string> old)
    {
        old = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, blob) in Blobs)
        {
            if (blobs.Remove(name, out var was)) old[name] = was;
            blobs[name] = blob;
        }
        return [.. Blobs.Keys];
    }
}
