// The engine tests' helpers compiled in here (see the .csproj).
global using Reconciler.Engine.Tests.Daemon;
global using Reconciler.Engine.Tests.Execution;
global using Reconciler.Engine.Tests.Git;
global using Reconciler.Engine.Tests.Infrastructure;
global using Reconciler.Engine.Tests.State;
global using Reconciler.Engine.Tests.Views;
