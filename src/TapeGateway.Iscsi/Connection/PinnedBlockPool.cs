using System.Buffers;

namespace TapeGateway.Iscsi.Connection;

/// <summary>
/// Fixed-size receive blocks on the pinned object heap, reused: a receive thread waits in <c>recv</c> with a block's
/// address in the kernel, which must not move under it, and a connection's stream of PDUs should not allocate.
/// </summary>
internal sealed class PinnedBlockPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    /// <summary>Blocks kept for reuse beyond those in use (16 MiB); more are left to the collector.</summary>
    private const int MaxRetained = 256;

    private readonly Lock _lock = new();
    private readonly Stack<Block> _free = new(MaxRetained); // not ConcurrentStack: it allocates a node per push

    public static new PinnedBlockPool Shared { get; } = new();

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        lock (_lock)
        {
            if (_free.TryPop(out var block))
            {
                return block.Reuse();
            }
        }

        return new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
    }

    private void Return(Block block)
    {
        lock (_lock)
        {
            if (_free.Count < MaxRetained)
            {
                _free.Push(block);
            }
        }
    }

    private sealed class Block(PinnedBlockPool pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
        private int _rented = 1;

        public Memory<byte> Memory => _array;

        public Block Reuse()
        {
            _rented = 1;
            return this;
        }

        public void Dispose()
        {
            // The pipe returns each block once; a second return must not hand the block out twice.
            if (Interlocked.Exchange(ref _rented, 0) == 1)
            {
                pool.Return(this);
            }
        }
    }
}
