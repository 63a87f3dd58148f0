//! Doubly linked lists threaded through one slab: the queues every policy here is made of.
//!
//! Nodes live in a `Vec` and point at each other by index, so pushing, unlinking and moving a
//! node is O(1) and allocates nothing once the slab has grown; freed slots are reused. One slab
//! can hold several lists (S3-FIFO's small and main queues, W-TinyLFU's window, probation and
//! protected segments): a node is on at most one list at a time, and the caller says which.
//!
//! ```text
//!   List { head ─┐                         ┌─ tail }
//!                ▼                         ▼
//!   slab:  [ 7 ⇄ 2 ⇄ 9 ⇄ … ⇄ 4 ]   front = newest, back = next to go
//! ```

/// The index no node has: the end of a list.
const NIL: u32 = u32::MAX;

/// Nodes holding `T`, linked into [`List`]s.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    nodes: Vec<Node<T>>,
    free: Vec<u32>,
}

#[derive(Debug)]
struct Node<T> {
    item: Option<T>,
    prev: u32,
    next: u32,
}

/// One list's ends and length; its nodes are in a [`Slab`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct List {
    head: u32,
    tail: u32,
    len: usize,
}

impl List {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self { head: NIL, tail: NIL, len: 0 }
    }

    /// Nodes on the list.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The node at the back (the oldest pushed), if any.
    pub(crate) fn back(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub(crate) const fn new() -> Self {
        Self { nodes: Vec::new(), free: Vec::new() }
    }

    /// A new node holding `item`, on no list yet.
    ///
    /// # Panics
    /// When the slab would hold 2³² − 1 nodes (indices are `u32` to keep nodes small).
    pub(crate) fn alloc(&mut self, item: T) -> u32 {
        if let Some(index) = self.free.pop() {
            self.nodes[index as usize].item = Some(item);
            return index;
        }
        let index = u32::try_from(self.nodes.len()).ok().filter(|&i| i != NIL);
        let index = index.expect("a slab holds fewer than 2^32 - 1 nodes");
        self.nodes.push(Node { item: Some(item), prev: NIL, next: NIL });
        index
    }

    /// Frees `index`, which must be on no list, and gives back its item.
    pub(crate) fn release(&mut self, index: u32) -> T {
        let node = &mut self.nodes[index as usize];
        debug_assert!(node.prev == NIL && node.next == NIL, "released while linked");
        self.free.push(index);
        // A live index always holds an item: alloc sets it, only release takes it.
        node.item.take().expect("a live node")
    }

    /// The item at `index`.
    pub(crate) fn get(&self, index: u32) -> &T {
        self.nodes[index as usize].item.as_ref().expect("a live node")
    }

    /// The item at `index`, to change.
    pub(crate) fn get_mut(&mut self, index: u32) -> &mut T {
        self.nodes[index as usize].item.as_mut().expect("a live node")
    }

    /// The node before `index` on its list, towards the front.
    pub(crate) fn prev(&self, index: u32) -> Option<u32> {
        let prev = self.nodes[index as usize].prev;
        (prev != NIL).then_some(prev)
    }

    /// Links `index` (on no list) at the front of `list`.
    pub(crate) fn push_front(&mut self, list: &mut List, index: u32) {
        let old_head = list.head;
        {
            let node = &mut self.nodes[index as usize];
            node.prev = NIL;
            node.next = old_head;
        }
        if old_head == NIL {
            list.tail = index;
        } else {
            self.nodes[old_head as usize].prev = index;
        }
        list.head = index;
        list.len += 1;
    }

    /// Takes `index` off `list`, which it must be on.
    pub(crate) fn unlink(&mut self, list: &mut List, index: u32) {
        let (prev, next) = {
            let node = &mut self.nodes[index as usize];
            let links = (node.prev, node.next);
            node.prev = NIL;
            node.next = NIL;
            links
        };
        if prev == NIL {
            list.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        list.len -= 1;
    }

    /// Moves `index` from wherever it is on `list` to its front.
    pub(crate) fn move_to_front(&mut self, list: &mut List, index: u32) {
        if list.head != index {
            self.unlink(list, index);
            self.push_front(list, index);
        }
    }

    /// Takes the node at the back of `list` off it, and gives its index.
    pub(crate) fn pop_back(&mut self, list: &mut List) -> Option<u32> {
        let index = list.back()?;
        self.unlink(list, index);
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(slab: &Slab<char>, list: &List) -> String {
        let mut out = String::new();
        let mut at = list.back();
        while let Some(index) = at {
            out.push(*slab.get(index));
            at = slab.prev(index);
        }
        out
    }

    #[test]
    fn pushes_unlinks_moves_and_reuses_slots() {
        let mut slab = Slab::new();
        let (mut one, mut two) = (List::new(), List::new());
        let [a, b, c] = ['a', 'b', 'c'].map(|item| slab.alloc(item));
        for index in [a, b, c] {
            slab.push_front(&mut one, index);
        }
        assert_eq!(items(&slab, &one), "abc", "back to front");
        slab.move_to_front(&mut one, a);
        assert_eq!(items(&slab, &one), "bca");
        slab.unlink(&mut one, c);
        slab.push_front(&mut two, c);
        assert_eq!((items(&slab, &one), items(&slab, &two)), ("ba".into(), "c".into()));
        assert_eq!(slab.pop_back(&mut one), Some(b));
        assert_eq!(slab.release(b), 'b');
        assert_eq!(slab.alloc('d'), b, "the freed slot is reused");
        assert_eq!((one.len(), two.len()), (1, 1));
        slab.unlink(&mut one, a);
        assert_eq!((one.back(), one.len()), (None, 0));
    }
}
