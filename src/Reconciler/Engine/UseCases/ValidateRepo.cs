using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.UseCases;

/// <param name="Repo">--repo as typed.</param>
/// <param name="Rev">--rev: read that commit from Git objects; null: the files on disk.</param>
/// <param name="UseParseCache">Reuse (and refresh) parse results under REPO/.reconciler/cache/parse.</param>
public sealed record ValidateRequest(string Repo, string? Rev, bool UseParseCache = true);

/// <summary>Every finding of one load of the repo and what was read. An invalid repo is a report with errors, not a
/// failure: the findings are the answer.</summary>
/// <param name="Where">Where the files came from (<see cref="InfraRepo.Describe"/>).</param>
/// <param name="GitSubdirectory">The repo's path inside its Git repository ("" at the root or outside Git).</param>
public sealed record ValidationReport(
    IReadOnlyList<Diagnostic> Diagnostics, int Files, string Where, string GitSubdirectory, int Services, int Environments, int Toggles)
{
    public int Errors => Diagnostics.Count(d => d.Severity == Severity.Error);

    public int Warnings => Diagnostics.Count(d => d.Severity == Severity.Warning);

    public bool HasErrors => Errors > 0;

    /// <summary>What the command ended with: invalid input when there is an error, else success.</summary>
    public FailureKind? Outcome => HasErrors ? FailureKind.InvalidInput : null;
}

/// <summary>`reconciler validate`: YAML, schemas and cross-file rules of the repo at a commit or in the working tree.
/// Fails only when the repo cannot be read at all (no such directory, unknown revision, ...).</summary>
public static class ValidateRepo
{
    public static UseCaseResult<ValidationReport> Run(ValidateRequest request) => UseCaseResult.Catch(() =>
    {
        using var infra = InfraRepo.Open(request.Repo, request.Rev);
        var cache = request.UseParseCache ? new FileParseCache(FileParseCache.DefaultDirectory(infra.Directory)) : null;
        var result = RepoLoader.Load(infra.Source, cache, CoreParallelism.Load);
        cache?.Flush();
        if (result.Model is null && !result.Diagnostics.Any(d => d.Severity == Severity.Error))
            throw new InvalidOperationException("the loader returned no model and no error");
        var model = result.HasErrors ? null : result.Model;
        return new ValidationReport(result.Diagnostics, result.Stats.Files, infra.Describe(), infra.GitSubdirectory,
            model?.Services.Count ?? 0, model?.Environments.Count ?? 0, model?.Toggles.Count ?? 0);
    });
}
