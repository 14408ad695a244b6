using System.Text.RegularExpressions;
using Reconciler.Cli;
using Reconciler.Schema.Model;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

/// <summary>The one place where outcomes become exit codes: every failure kind has the code docs/cli.md documents, and
/// a command that returns a failure (or whose use case failed) exits with it.</summary>
public sealed partial class ExitCodeTests
{
    /// <summary>docs/cli.md, "Exit codes": what each kind of failure means to a script.</summary>
    public static TheoryData<FailureKind, int> Documented => new()
    {
        { FailureKind.InvalidInput, 1 },
        { FailureKind.EnvironmentFault, 9 },
        { FailureKind.CommitFault, 3 },
        { FailureKind.HostsNeedAttention, 4 },
        { FailureKind.StaleOrConflict, 5 },
        { FailureKind.LockedOrFrozen, 6 },
        { FailureKind.StoreUnavailable, 7 },
        { FailureKind.AlreadyQuarantined, 8 },
        { FailureKind.Interrupted, 130 },
    };

    [GeneratedRegex(@"^\| (\d+) \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [Theory]
    [MemberData(nameof(Documented))]
    public async Task Each_failure_kind_exits_with_its_documented_code(FailureKind kind, int code)
    {
        Assert.Equal(code, ExitCodes.For(kind));

        var stderr = new StringWriter();
        Assert.Equal(code, await CliRunner.RunAsync(stderr, () => Task.FromResult<FailureKind?>(kind)));
        Assert.Equal(code, await CliRunner.RunAsync(stderr, (Func<Task<FailureKind?>>)(() => throw new ReconcilerException(kind, "why"))));
        Assert.Equal(code, await CliRunner.RunAsync(stderr,
            async () => await CliRunner.FailAsync(stderr, UseCaseResult.Failed<string>(new Failure(kind, "why")))));
    }

    [Fact]
    public void Every_failure_kind_is_covered_and_every_code_is_in_the_table_of_docs_cli_md()
    {
        Assert.Equal(Enum.GetValues<FailureKind>().Order(), Documented.Select(row => (FailureKind)row[0]).Order());
        var documented = TableRow().Matches(File.ReadAllText(Path.Combine(GitFixture.ProjectRoot(), "docs", "cli.md")))
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        foreach (var kind in Enum.GetValues<FailureKind>())
            Assert.Contains(ExitCodes.For(kind), documented);
        Assert.Contains(ExitCodes.For(null), documented);
    }

    [Fact]
    public async Task Success_is_0_and_a_failure_is_one_error_line()
    {
        var stderr = new StringWriter();
        Assert.Equal(0, await CliRunner.RunAsync(stderr, () => Task.FromResult<FailureKind?>(null)));
        Assert.Equal("", stderr.ToString());

        Assert.Equal(6, await CliRunner.RunAsync(stderr,
            async () => await CliRunner.FailAsync(stderr, UseCaseResult.Failed<string>(new Failure(FailureKind.LockedOrFrozen, "prod is locked by alice")))));
        Assert.Equal("error: prod is locked by alice\n", stderr.ToString());
    }

    [Fact]
    public async Task An_invalid_repo_is_listed_as_validate_lists_it_before_the_error()
    {
        var invalid = new InvalidRepo(
            [new Diagnostic(Severity.Error, "schema.required", "missing 'version'", new SourceLocation("services/api.yaml", 3, 1), "")],
            "at commit 0123456789ab");
        var stderr = new StringWriter();

        var kind = await CliRunner.FailAsync(stderr, UseCaseResult.Failed<string>(new InvalidRepoException(invalid).ToFailure(), invalid),
            "infra/", "nothing was applied");

        Assert.Equal(FailureKind.InvalidInput, kind);
        Assert.Equal(
            "infra/services/api.yaml:3:1: error schema.required: missing 'version' (at /)\n" +
            "1 error(s) at commit 0123456789ab; nothing was applied.\n" +
            "error: the repo is not valid at commit 0123456789ab; fix the errors above (`reconciler validate` lists them too).\n",
            stderr.ToString());
    }
}
