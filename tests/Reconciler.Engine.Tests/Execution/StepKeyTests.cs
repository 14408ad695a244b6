using Reconciler.Execution;
using Xunit;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>The stored text of journal step keys is a format: journals written before typed keys must still resume.</summary>
public sealed class StepKeyTests
{
    /// <summary>Every kind, spelled as the journal stores it, with the fields it stands for. Names that look like
    /// keywords ("toggle", "state", "batch-1", "rollback") are ordinary names in their place.</summary>
    [Theory]
    [InlineData("begin", "Begin", 0, null, null, 0, null)]
    [InlineData("end", "End", 0, null, null, 0, null)]
    [InlineData("rollback", "Rollback", 0, null, null, 0, null)]
    [InlineData("rollback/state", "RollbackState", 0, null, null, 0, null)]
    [InlineData("rollback/api/web-1", "RollbackHost", 0, "api", "web-1", 0, null)]
    [InlineData("rollback/state/web-1", "RollbackHost", 0, "state", "web-1", 0, null)]
    [InlineData("w1/toggle/new-checkout/before", "ToggleBefore", 1, null, null, 0, "new-checkout")]
    [InlineData("w12/toggle/new-checkout/after", "ToggleAfter", 12, null, null, 0, "new-checkout")]
    [InlineData("w1/api/web-1/stage", "Stage", 1, "api", "web-1", 0, null)]
    [InlineData("w1/api/web-1/activate", "Activate", 1, "api", "web-1", 0, null)]
    [InlineData("w3/api/web-1/remove", "Remove", 3, "api", "web-1", 0, null)]
    [InlineData("w1/api/batch-1/gate", "BatchGate", 1, "api", null, 1, null)]
    [InlineData("w2/api/batch-10/state", "BatchState", 2, "api", null, 10, null)]
    [InlineData("w4/api/state", "ServiceState", 4, "api", null, 0, null)]
    [InlineData("w1/api/done", "ServiceDone", 1, "api", null, 0, null)]
    [InlineData("w0/api/done", "ServiceDone", 0, "api", null, 0, null)]
    [InlineData("w1/toggle/web-1/activate", "Activate", 1, "toggle", "web-1", 0, null)]
    [InlineData("w1/toggle/batch-1/state", "BatchState", 1, "toggle", null, 1, null)]
    [InlineData("w1/toggle/done", "ServiceDone", 1, "toggle", null, 0, null)]
    [InlineData("w1/api/batch-1/activate", "Activate", 1, "api", "batch-1", 0, null)]
    [InlineData("w1/rollback/state", "ServiceState", 1, "rollback", null, 0, null)]
    [InlineData("w1/state/web-1/stage", "Stage", 1, "state", "web-1", 0, null)]
    public void A_stored_key_parses_to_its_fields_and_formats_back_to_the_same_text(
        string text, string kind, int wave, string? service, string? host, int batch, string? toggle)
    {
        Assert.True(StepKey.TryParse(text, out var key), text);

        Assert.Equal(Enum.Parse<StepKind>(kind), key.Kind);
        Assert.Equal((wave, service, host, batch, toggle), (key.Wave, key.Service, key.Host, key.Batch, key.Toggle));
        Assert.Equal(text, key.ToString());
        Assert.Equal(key, StepKey.Parse(key.ToString(), "staging", "a1"));
    }

    [Fact]
    public void Keys_built_by_the_executor_are_spelled_as_journals_before_typed_keys()
    {
        var cases = new (StepKey Key, string Text)[]
        {
            (StepKey.Begin, "begin"),
            (StepKey.End, "end"),
            (StepKey.Rollback, "rollback"),
            (StepKey.RollbackState, "rollback/state"),
            (StepKey.RollbackOf("api", "web-2"), "rollback/api/web-2"),
            (StepKey.ToggleSwitch(2, "new-checkout", StepKind.ToggleBefore), "w2/toggle/new-checkout/before"),
            (StepKey.ToggleSwitch(2, "new-checkout", StepKind.ToggleAfter), "w2/toggle/new-checkout/after"),
            (StepKey.OnHost(1, "api", "web-1", StepKind.Stage), "w1/api/web-1/stage"),
            (StepKey.OnHost(1, "api", "web-1", StepKind.Activate), "w1/api/web-1/activate"),
            (StepKey.OnHost(1, "api", "web-1", StepKind.Remove), "w1/api/web-1/remove"),
            (StepKey.Gate(1, "api", 2), "w1/api/batch-2/gate"),
            (StepKey.BatchWritten(1, "api", 2), "w1/api/batch-2/state"),
            (StepKey.ServiceWritten(3, "api"), "w3/api/state"),
            (StepKey.ServiceDone(1, "api"), "w1/api/done"),
        };

        Assert.Equal(cases.Select(c => c.Text), cases.Select(c => c.Key.ToString()));
        Assert.All(cases, c => Assert.Equal(c.Key, StepKey.Parse(c.Text, "staging", "a1")));
        Assert.Equal(Enum.GetValues<StepKind>().Order(), cases.Select(c => c.Key.Kind).Order());   // every kind is covered
    }

    [Theory]
    [InlineData("")]
    [InlineData("BEGIN")]
    [InlineData("begin/x")]
    [InlineData("end/")]
    [InlineData("/end")]
    [InlineData("rollback/api")]
    [InlineData("rollback/api/web-1/activate")]
    [InlineData("rollback//web-1")]
    [InlineData("w1")]
    [InlineData("w1/api")]
    [InlineData("w/api/done")]
    [InlineData("wx/api/done")]
    [InlineData("w01/api/done")]
    [InlineData("w-1/api/done")]
    [InlineData("w+1/api/done")]
    [InlineData("w 1/api/done")]
    [InlineData("w99999999999/api/done")]
    [InlineData("x1/api/done")]
    [InlineData("w1//done")]
    [InlineData("w1/api/finished")]
    [InlineData("w1/api/web-1/deploy")]
    [InlineData("w1/api/web-1/")]
    [InlineData("w1/api/web-1/activate/again")]
    [InlineData("w1/api/batch-0/gate")]
    [InlineData("w1/api/batch-01/state")]
    [InlineData("w1/api/batch-x/state")]
    [InlineData("w1/api/batch/gate")]
    [InlineData("w1/api/web-1/gate")]
    [InlineData("w1/toggle/new-checkout/during")]
    [InlineData("w1/new-checkout/before")]
    public void A_malformed_key_is_refused_with_a_store_failure_naming_it(string text)
    {
        Assert.False(StepKey.TryParse(text, out _));

        var e = Assert.Throws<ReconcilerException>(() => StepKey.Parse(text, "staging", "20261102T090000Z-abc123"));
        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains("20261102T090000Z-abc123", e.Message);
    }

    [Fact]
    public void A_control_character_in_a_refused_key_is_not_echoed()
    {
        var e = Assert.Throws<ReconcilerException>(() => StepKey.Parse("w1/api/web-1/act\nivate", "staging", "a1"));
        Assert.DoesNotContain("\n", e.Message);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("")]
    public void A_name_that_would_make_the_text_ambiguous_cannot_build_a_key(string name)
    {
        Assert.Throws<ArgumentException>(() => StepKey.OnHost(1, name, "web-1", StepKind.Activate));
        Assert.Throws<ArgumentException>(() => StepKey.OnHost(1, "api", name, StepKind.Activate));
        Assert.Throws<ArgumentException>(() => StepKey.ToggleSwitch(1, name, StepKind.ToggleAfter));
        Assert.Throws<ArgumentException>(() => StepKey.RollbackOf(name, "web-1"));
    }

    [Fact]
    public void Factories_refuse_kinds_and_numbers_outside_their_place()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => StepKey.OnHost(1, "api", "web-1", StepKind.BatchGate));
        Assert.Throws<ArgumentOutOfRangeException>(() => StepKey.ToggleSwitch(1, "t", StepKind.Stage));
        Assert.Throws<ArgumentOutOfRangeException>(() => StepKey.Gate(1, "api", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => StepKey.ServiceDone(-1, "api"));
    }
}
