using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using FASTER.core;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>Closing a store is bounded whatever FASTER's device does (ResilientDevice.Dispose).</summary>
public sealed class ResilientDeviceDisposeTests
{
    [Fact]
    public async Task Dispose_InnerDeviceNeverCloses_ReturnsAfterTheTimeoutInsteadOfHanging()
    {
        using var release = new ManualResetEventSlim();
        var inner = new HangingDevice(release);
        var device = new ResilientDevice(inner, new DeviceHealth("test"));

        var closing = Task.Run(device.Dispose);
        var returned = await Task.WhenAny(closing, Task.Delay(ResilientDevice.DisposeTimeout + TimeSpan.FromSeconds(30))) == closing;
        release.Set(); // let the abandoned close finish

        Assert.True(returned, "ResilientDevice.Dispose waited for a device that never closes");
        Assert.True(inner.DisposeCalled);
    }

    [Fact]
    public void Dispose_InnerDeviceCloses_ClosesIt()
    {
        var inner = new HangingDevice(release: null);
        new ResilientDevice(inner, new DeviceHealth("test")).Dispose();
        Assert.True(inner.DisposeCalled);
    }

    // A device whose Dispose blocks until released (FASTER's local device waiting for a file handle that never returns).
    private sealed class HangingDevice(ManualResetEventSlim? release) : StorageDeviceBase("hanging", 512, -1)
    {
        public volatile bool DisposeCalled;

        public override void Dispose()
        {
            DisposeCalled = true;
            release?.Wait();
        }

        public override void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength, DeviceIOCompletionCallback callback, object context) =>
            callback(0, readLength, context);

        public override void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context) =>
            callback(0, numBytesToWrite, context);

        public override void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result) => callback(result);
    }
}
