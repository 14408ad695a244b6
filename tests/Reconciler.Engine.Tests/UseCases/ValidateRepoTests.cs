using Reconciler.Schema.Model;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

public sealed class ValidateRepoTests : IDisposable
{
    private readonly InfraRepoFixture _repo = new(twoEnvironments: true);

    public void Dispose() => _repo.Dispose();

    [Fact]
    public void A_valid_commit_is_a_report_without_errors_that_counts_what_was_read()
    {
        var result = ValidateRepo.Run(new ValidateRequest(_repo.Path, "HEAD"));

        Assert.True(result.Succeeded, result.Failure?.Message);
        var report = result.Value;
        Assert.False(report.HasErrors);
        Assert.Null(report.Outcome);
        Assert.Equal((1, 2, 0), (report.Services, report.Environments, report.Toggles));
        Assert.Equal(4, report.Files);
        Assert.Equal("at commit " + _repo.Head[..12], report.Where);
        Assert.Equal("", report.GitSubdirectory);
    }

    [Fact]
    public void An_invalid_repo_is_a_report_with_its_diagnostics_and_an_invalid_input_outcome_not_a_failure()
    {
        _repo.CommitInvalid();

        var result = ValidateRepo.Run(new ValidateRequest(_repo.Path, null, UseParseCache: false));

        Assert.True(result.Succeeded);
        var report = result.Value;
        Assert.True(report.HasErrors);
        Assert.Equal(FailureKind.InvalidInput, report.Outcome);
        var error = Assert.Single(report.Diagnostics, d => d.Severity == Severity.Error);
        Assert.Equal("services/api.yaml", error.Location?.File);
        Assert.Equal((0, 0), (report.Services, report.Environments));
    }

    [Theory]
    [InlineData("no-such-revision", "unknown revision 'no-such-revision'")]
    public void A_revision_that_does_not_exist_is_invalid_input(string rev, string message)
    {
        var result = ValidateRepo.Run(new ValidateRequest(_repo.Path, rev));

        Assert.False(result.Succeeded);
        Assert.Equal(FailureKind.InvalidInput, result.Failure.Kind);
        Assert.Contains(message, result.Failure.Message);
        Assert.Null(result.InvalidRepo);
    }

    [Fact]
    public void A_directory_that_does_not_exist_is_invalid_input()
    {
        var result = ValidateRepo.Run(new ValidateRequest(_repo.Combine("nope"), null));

        Assert.Equal(FailureKind.InvalidInput, result.Failure?.Kind);
    }
}
