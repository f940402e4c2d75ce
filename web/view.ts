/** A page of the dashboard: its element, and what to close when another page replaces it. */
export interface View {
  el: HTMLElement;
  destroy(): void;
}
