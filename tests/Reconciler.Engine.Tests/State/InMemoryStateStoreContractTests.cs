using Reconciler.Engine.Tests.Execution;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>The store contract against the executor and daemon tests' <see cref="InMemoryStateStore"/>: a double that
/// passes what SQLite and Consul pass cannot let those tests rely on a store that does not exist. Time is fake.</summary>
public sealed class InMemoryStateStoreContractTests : StateStoreContract
{
    private InMemoryStateStore _backend = null!;

    protected override Task StartBackendAsync()
    {
        _backend = new InMemoryStateStore(Time);
        return Task.CompletedTask;
    }

    // The backend is the instance: every "connection" is the same object, as every SQLite connection is the same file.
    protected override IStateStore CreateStore() => _backend;

    protected override Task LetTimePassAsync(TimeSpan by, Func<Task<bool>> until) => AdvanceFakeTime(Time, by, until);

    internal static async Task AdvanceFakeTime(Microsoft.Extensions.Time.Testing.FakeTimeProvider time, TimeSpan by, Func<Task<bool>> until)
    {
        time.Advance(by);
        Assert.True(await until(), "the condition did not hold after the clock moved");
    }
}

/// <summary>The store contract through <see cref="CrashingStore"/> before any crash: the wrapper passes every call on
/// unchanged (the memo read included), so the executor's crash tests on SQLite test SQLite.</summary>
public sealed class CrashingStoreContractTests : StateStoreContract
{
    private InMemoryStateStore _backend = null!;

    protected override Task StartBackendAsync()
    {
        _backend = new InMemoryStateStore(Time);
        return Task.CompletedTask;
    }

    protected override IStateStore CreateStore() => new CrashingStore(_backend);

    protected override Task LetTimePassAsync(TimeSpan by, Func<Task<bool>> until) => InMemoryStateStoreContractTests.AdvanceFakeTime(Time, by, until);
}
