using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.Daemon;

/// <summary>
/// Desired state of one commit, read straight from Git objects (GitRepoSource), validated (RepoLoader) and resolved
/// for one environment (DesiredStateBuilder). Parse results are cached by blob id across commits, so a daemon that
/// follows a branch re-parses only the files each commit changed.
/// </summary>
public sealed class GitDesiredStateLoader(IParseCache? cache = null) : IDesiredStateLoader
{
    private const int MaxDiagnosticsInMessage = 20;

    /// <summary>The commit's desired state, its catalog host groups resolved now (known_hosts read from the same commit).</summary>
    public DesiredState Load(string repositoryPath, string commit, string environment) =>
        UseCases.RepoLoading.ResolveHosts(Build(LoadModel(repositoryPath, commit), environment), path =>
        {
            using var source = GitRepoSource.Open(repositoryPath, commit);
            return source.ReadFile(path) is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes) : null;
        });

    public RepoModel LoadModel(string repositoryPath, string commit)
    {
        using var source = GitRepoSource.Open(repositoryPath, commit);
        var result = RepoLoader.Load(source, cache, CoreParallelism.Load);
        (cache as FileParseCache)?.Flush();
        if (!result.HasErrors) return result.Model!;
        var errors = DiagnosticOrdering.Sort(result.Diagnostics.Where(d => d.Severity == Severity.Error)).ToList();
        var lines = errors.Take(MaxDiagnosticsInMessage).Select(d => "  " + d);
        var more = errors.Count > MaxDiagnosticsInMessage ? $"\n  ... and {errors.Count - MaxDiagnosticsInMessage} more (run `reconciler validate --rev {Short(commit)}`)" : "";
        throw new ReconcilerException(FailureKind.InvalidInput, $"commit {Short(commit)} does not validate ({errors.Count} error(s)); fix it in a new commit:\n{string.Join("\n", lines)}{more}");
    }

    public static DesiredState Build(RepoModel model, string environment)
    {
        try
        {
            return DesiredStateBuilder.Build(model, environment);
        }
        catch (UnknownEnvironmentException e)
        {
            throw new ReconcilerException(FailureKind.InvalidInput, e.Message + ". Check --env.");
        }
    }

    private static string Short(string sha) => sha.Length > 12 ? sha[..12] : sha;
}
