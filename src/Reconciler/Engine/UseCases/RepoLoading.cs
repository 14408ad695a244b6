using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.UseCases;

/// <summary>The steps every use case that reads the infra repo shares: load it (with the parse cache under the repo),
/// pick the environment, and resolve its desired state, each failing with a message that says what to do.</summary>
public static class RepoLoading
{
    /// <summary>The model of the files <paramref name="infra"/> opened. Throws <see cref="InvalidRepoException"/> with
    /// every diagnostic when they do not validate.</summary>
    public static RepoModel Load(InfraRepo infra)
    {
        var cache = new FileParseCache(FileParseCache.DefaultDirectory(infra.Directory));
        var result = RepoLoader.Load(infra.Source, cache, CoreParallelism.Load);
        cache.Flush();
        if (!result.HasErrors) return result.Model!;
        throw new InvalidRepoException(new InvalidRepo(result.Diagnostics, infra.Describe()));
    }

    /// <summary><paramref name="requested"/> (--env), else the only environment of the repo.</summary>
    public static string Environment(RepoModel model, string? requested) =>
        requested ?? (model.Environments.Count == 1 ? model.Environments.Keys.Single()
            : throw new ReconcilerException(FailureKind.InvalidInput, model.Environments.Count == 0
                ? "the repo defines no environments; add environments/NAME.yaml."
                : $"choose an environment with --env NAME; the repo defines: {string.Join(", ", model.Environments.Keys)}."));

    /// <summary>The desired state of one environment; an environment the repo does not define is invalid input.</summary>
    public static DesiredState Desired(RepoModel model, string environment)
    {
        try
        {
            return DesiredStateBuilder.Build(model, environment);
        }
        catch (UnknownEnvironmentException e)
        {
            throw new ReconcilerException(FailureKind.InvalidInput, e.Message + ".");
        }
    }
}
